"""pytest configuration shared by the unit tests and the notebook tests."""


def pytest_collectstart(collector):
    # TensorFlow and tqdm write to stderr; what a notebook prints to stdout and
    # displays is what nbval compares.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
