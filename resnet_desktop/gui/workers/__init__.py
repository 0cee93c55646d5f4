"""Background work: the services and runners that keep slow work off the GUI thread."""
