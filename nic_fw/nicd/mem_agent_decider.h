// The memory agent of nic_fw/policies/mem behind wave-nicd's memory service.
#ifndef WAVE_NIC_FW_NICD_MEM_AGENT_DECIDER_H_
#define WAVE_NIC_FW_NICD_MEM_AGENT_DECIDER_H_

#include <memory>
#include <string>

#include "nicd/mem_service.h"

namespace wave::nicd {

// Builds the agent for the policy the host asked for (age, or sol guarded by age).
std::unique_ptr<MemDecider> MakeMemAgentDecider(const MemAttachParams& params, std::string* why);

}  // namespace wave::nicd

#endif  // WAVE_NIC_FW_NICD_MEM_AGENT_DECIDER_H_
