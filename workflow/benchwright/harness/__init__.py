"""The LoadGen harness: settings, system under test, query sample library, runs, logs and accuracy."""
