"""The control library as data: one YAML file per framework (``<framework id>.yaml`` beside this
module), validated by :mod:`compliance.controls` at load."""
