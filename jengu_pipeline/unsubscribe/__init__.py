"""The RFC 8058 one-click unsubscribe receiver (``jengu unsubscribe serve``)."""
