"""Sample data: the demo world, the synthetic generators and the demo segments."""
