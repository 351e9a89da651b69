"""What several test modules share (stand-ins, builders); never imported from a test module."""
