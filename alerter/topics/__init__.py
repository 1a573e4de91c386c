"""Topics: the taxonomy, the learned model and the classifier that give an item its topics with
the evidence for each, and staff corrections; it may import only the ground floor."""
