/* The batch codec is public API: see pipeline/codec.h. */
#ifndef PIPELINE_FRAMEWORK_BATCH_CODEC_H
#define PIPELINE_FRAMEWORK_BATCH_CODEC_H

#include "pipeline/codec.h"

#endif
