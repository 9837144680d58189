#pragma once
// Umbrella header of the spot-sampling environment (namespace stx::envs).
#include <stx/envs/policies.h>
#include <stx/envs/reward.h>
#include <stx/envs/single_cell_prior.h>
#include <stx/envs/spot_sampling_env.h>
#include <stx/envs/synthetic.h>
#include <stx/envs/task.h>
#include <stx/envs/types.h>
#include <stx/envs/vector_env.h>
