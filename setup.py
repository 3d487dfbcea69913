"""Build hook: a wheel carries the project's resources inside the package.

The checkout keeps them where readers look for them (``profiles/``, ``data/manifests/``, ``data/reference/``,
``notebooks/``, ``book/``, ``_config.yml``, ``_toc.yml``); building the package copies them into
``evalkit/_resources/``, where :func:`evalkit.config.resource_path` finds them when evalkit runs outside a checkout.
Everything else is declared in ``pyproject.toml``.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: Copied into the package, relative to the checkout (keep in sync with evalkit.config.resource_path's callers).
RESOURCES = ["profiles", "data/manifests", "data/reference", "notebooks", "book", "_config.yml", "_toc.yml"]
IGNORE = shutil.ignore_patterns("_generated", "_build", ".ipynb_checkpoints", "__pycache__")


class BuildWithResources(build_py):
    def run(self):
        super().run()
        here = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "evalkit" / "_resources"
        for relative in RESOURCES:
            source, destination = here / relative, target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, destination, dirs_exist_ok=True, ignore=IGNORE)
            else:
                shutil.copy2(source, destination)


setup(cmdclass={"build_py": BuildWithResources})
