"""What every layer shares and nothing below it: the post model, the site's config,
HTML and text hygiene, slugs, the digest's weekly slot, the clock and process ids.

It imports no other postroom package, so any layer may import it without a cycle.
"""
