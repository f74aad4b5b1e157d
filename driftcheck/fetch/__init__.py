"""Where desired files come from: a Source at a revision becomes a Tree the renderers read."""
