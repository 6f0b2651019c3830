"""Shared pieces for the torch_ref tests: the devices to run on."""

import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
