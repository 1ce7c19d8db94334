"""The Flux this program monitors: upstream releases as data, and the stack's target among them."""
