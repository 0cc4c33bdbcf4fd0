"""Emergency access: cameras around an incident, after-the-fact review and ratification."""
