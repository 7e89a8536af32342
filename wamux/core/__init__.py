"""The core: its ports, the instance actors and their supervisor, users, projection runner and webhook dispatcher."""
