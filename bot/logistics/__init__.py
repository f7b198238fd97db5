"""The courier side: the tracking provider's client and its push callback."""
