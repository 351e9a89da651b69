"""What logship keeps across restarts: how far each container's log has been shipped."""
