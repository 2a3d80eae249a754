"""``python -m jengu_pipeline.cli``: the same command as the ``jengu`` script."""

from jengu_pipeline.cli import main

main()
