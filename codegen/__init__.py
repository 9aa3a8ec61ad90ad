"""The C emitter: Python decides every name, number and size; Jinja2 templates lay the files out."""
