"""The template's own jobs: data preparation and training, driven by strict YAML configs."""
