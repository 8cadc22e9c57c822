"""Training domain: features, the autoencoder, its threshold and its evaluation, per production line."""
