"""Device-agnostic PyTorch references (the full library arrives with the torch assignments)."""

from dlcourse.torch_ref.device import get_device, seed_everything

__all__ = ["get_device", "seed_everything"]
