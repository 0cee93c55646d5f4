"""The frozen app's entry point: the same ``main`` as the ``resnet-desktop`` command."""

from resnet_desktop.cli import main

raise SystemExit(main())
