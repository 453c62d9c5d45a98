"""torchvision backbones' features: extracted into a feature store, and read back for training."""
