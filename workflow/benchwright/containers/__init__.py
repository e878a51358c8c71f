"""Running benchwright steps inside the container image of a SKU: Docker (docker-py), Apptainer, or the host."""
