"""Inference code of Project_One: the provider behind score.py's init() and run()."""
