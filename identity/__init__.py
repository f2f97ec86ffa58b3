"""Identity resolution: normalisation, the identity graph, stable profile ids."""
