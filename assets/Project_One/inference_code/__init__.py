"""Inference code of Project_One: MyModel (model_class.py) behind score.py, and its helpers
(utility.py)."""
