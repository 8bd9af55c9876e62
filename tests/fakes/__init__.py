"""Fakes of the services the channel kinds send to."""
