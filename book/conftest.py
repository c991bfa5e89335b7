"""Let nbval run the book's chapters, which are MyST-markdown text notebooks, not .ipynb files.

nbval collects only .ipynb files and reads them with nbformat; here it is handed the notebook that
jupytext reads from a chapter's markdown. Checks live in the chapters' `assert` cells.
"""

from unittest import mock

import jupytext
import nbformat
from nbval.plugin import IPyNbFile


class MarkdownNotebook(IPyNbFile):
    def collect(self):
        with mock.patch.object(nbformat, "read", lambda path, as_version: jupytext.read(path)):
            yield from super().collect()


def pytest_collect_file(file_path, parent):
    option = parent.config.option
    if (option.nbval or option.nbval_lax) and file_path.suffix == ".md" and file_path.parent.name == "book":
        return MarkdownNotebook.from_parent(parent, path=file_path)
