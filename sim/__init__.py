"""pairsim: an agent-based simulation of China's urban–rural pairing programmes (城乡结对共建).

A scenario (:mod:`sim.scenario`) describes a county; :class:`sim.model.PairingModel`
simulates it month by month on Mesa, with pairing policies from :mod:`sim.pairing`;
:mod:`sim.runner` and the ``pairsim`` command (:mod:`sim.cli`) run it and write tables.
"""


def package_version(package: str) -> str:
    """An installed package's version ('not installed' if it is not); light enough for ``pairsim --version``."""
    from importlib import metadata  # here: importing it costs ~80 ms that every other command would pay

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
