"""What the chat is configured and taught with: keyword rules and understanding examples."""
