"""The HTTP app: its factory, the typed app keys and thread bridge, health, listening sockets, H5 product pages."""
