/* peft.h - file and tensor names of a PEFT LoRA adapter folder, shared by
 * the writer (peft_save.c) and the reader (peft_open.c). */
#ifndef ZOQ_IO_PEFT_H
#define ZOQ_IO_PEFT_H

#define ZOQ__PEFT_WEIGHTS "adapter_model.safetensors"
#define ZOQ__PEFT_CONFIG "adapter_config.json"
#define ZOQ__PEFT_PREFIX "base_model.model."
#define ZOQ__PEFT_A ".lora_A.weight"
#define ZOQ__PEFT_B ".lora_B.weight"
#define ZOQ__PEFT_CONFIG_MAX_BYTES (16u << 20)

#endif
