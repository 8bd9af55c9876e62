"""Contract-checking fakes of the services the channel kinds send to."""
