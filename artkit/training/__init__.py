"""Training bookkeeping shared by every model plugin: run folders, one training, its
evaluation and K-fold cross-validation."""
