"""WeChat Pay: the pay client, the H5 pay page and the payment-notice callback."""
