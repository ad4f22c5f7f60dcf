# Sourced by the scripts: Open MPI refuses to run as root without these,
# and more ranks than cores need --oversubscribe.
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# The tests run on one machine, where shared memory and TCP (pml ob1)
# suffice: UCX's start-up alone makes every MPI_Init 0.2 s slower.
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1}
