# Sourced by the scripts: Open MPI refuses to run as root without these,
# and more ranks than cores need --oversubscribe.
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
