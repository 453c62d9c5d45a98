"""Trained models at work: the Predictor, the pool the app's inference process owns, evaluation."""
