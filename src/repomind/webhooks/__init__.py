"""The webhook endpoint: signature check, de-duplication, routing to handlers, enqueueing."""
