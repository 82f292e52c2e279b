"""The papers the founding surveys name, and the ones every reader expects, are in the Atlas.

Each row: the name a reader would look for, the record's key, and the start of its title as stored,
so a renamed key or a wrong record fails here.
"""

import pytest

from atlas import data

NAMED = [
    ("GPipe", "huang2018gpipe", "GPipe: Efficient Training of Giant Neura"),
    ("ByteTransformer", "zhai2022bytetransformer", "ByteTransformer: A High-Performance Tran"),
    ("Megatron-LM", "shoeybi2019megatronlm", "Megatron-LM: Training Multi-Billion Para"),
    ("LightSeq2", "wang2021lightseq2", "LightSeq2: Accelerated Training for Tran"),
    ("CoLLiE", "lv2023collie", "CoLLiE: Collaborative Training of Large "),
    ("DeepSpeed", "rasley2020deepspeed", "DeepSpeed: System Optimizations Enable T"),
    ("ZeRO", "rajbhandari2019zero", "ZeRO: Memory Optimizations Toward Traini"),
    ("ZeRO-Offload", "ren2021zerooffload", "ZeRO-Offload: Democratizing Billion-Scal"),
    ("ZeRO-Infinity", "rajbhandari2021zeroinfinity", "ZeRO-Infinity: Breaking the GPU Memory W"),
    ("DeepSpeed-Inference", "aminabadi2022deepspeed", "DeepSpeed Inference: Enabling Efficient "),
    ("Splitwise", "patel2023splitwise", "Splitwise: Efficient Generative LLM Infe"),
    ("FlexGen", "sheng2023flexgen", "FlexGen: High-Throughput Generative Infe"),
    ("EET", "li2021easy", "Easy and Efficient Transformer: Scalable"),
    ("LightSeq", "wang2020lightseq", "LightSeq: A High Performance Inference L"),
    ("PETALS", "borzunov2022petals", "Petals: Collaborative Inference and Fine"),
    ("Colossal-AI", "li2021colossalai", "Colossal-AI: A Unified Deep Learning Sys"),
    ("Mesh-TensorFlow", "shazeer2018meshtensorflow", "Mesh-TensorFlow: Deep Learning for Super"),
    ("GPT-NeoX", "black2022gptneox20b", "GPT-NeoX-20B: An Open-Source Autoregress"),
    ("SparseGPT", "frantar2023sparsegpt", "SparseGPT: Massive Language Models Can B"),
    ("QMoE", "frantar2023qmoe", "QMoE: Practical Sub-1-Bit Compression of"),
    ("Reformer", "kitaev2020reformer", "Reformer: The Efficient Transformer"),
    ("Linear Transformer", "katharopoulos2020transformers", "Transformers are RNNs: Fast Autoregressi"),
    ("AFT", "zhai2021attention", "An Attention Free Transformer"),
    ("KDEformer", "zandieh2023kdeformer", "KDEformer: Accelerating Transformers via"),
    ("Switch Transformer", "fedus2021switch", "Switch Transformers: Scaling to Trillion"),
    ("GLaM", "du2021glam", "GLaM: Efficient Scaling of Language Mode"),
    ("RWKV", "peng2023rwkv", "RWKV: Reinventing RNNs for the Transform"),
    ("Tabi", "wang2023tabi", "Tabi: An Efficient Multi-Level Inference"),
    (
        "Near-duplicate sequence search (SIGMOD 2023)",
        "peng2023nearduplicate",
        "Near-Duplicate Sequence Search at Scale ",
    ),
    ("Mixed-precision training", "micikevicius2017mixed", "Mixed Precision Training"),
    ("LoRA", "hu2021lora", "LoRA: Low-Rank Adaptation of Large Langu"),
    ("Adapters", "houlsby2019parameterefficient", "Parameter-Efficient Transfer Learning fo"),
    ("Early exit (DeeBERT)", "xin2020deebert", "DeeBERT: Dynamic Early Exiting for Accel"),
    ("Early exit (CALM)", "schuster2022confident", "Confident Adaptive Language Modeling"),
    ("Speculative decoding", "leviathan2022fast", "Fast Inference from Transformers via Spe"),
    ("Speculative sampling", "chen2023accelerating", "Accelerating Large Language Model Decodi"),
    ("SLR 2409.04833", "rostam2024achieving", "Achieving Peak Performance for Large Lan"),
    ("2312.00678", "ding2023efficiency", "The Efficiency Spectrum of Large Languag"),
    ("2401.00625", "bai2024beyond", "Beyond Efficiency: A Systematic Survey o"),
    ("Wan et al. survey", "wan2023efficient", "Efficient Large Language Models: A Surve"),
    ("FlashAttention", "dao2022flashattention", "FlashAttention: Fast and Memory-Efficien"),
    ("FlashAttention-2", "dao2023flashattention2", "FlashAttention-2: Faster Attention with "),
    ("FlashAttention-3", "shah2024flashattention3", "FlashAttention-3: Fast and Accurate Atte"),
    ("vLLM/PagedAttention", "kwon2023efficient", "Efficient Memory Management for Large La"),
    ("Orca", "yu2022orca", "Orca: A Distributed Serving System for T"),
    ("DistServe", "zhong2024distserve", "DistServe: Disaggregating Prefill and De"),
    ("Sarathi", "agrawal2023sarathi", "SARATHI: Efficient LLM Inference by Pigg"),
    ("SGLang", "zheng2023sglang", "SGLang: Efficient Execution of Structure"),
    ("GPTQ", "frantar2022gptq", "GPTQ: Accurate Post-Training Quantizatio"),
    ("AWQ", "lin2023awq", "AWQ: Activation-aware Weight Quantizatio"),
    ("SmoothQuant", "xiao2022smoothquant", "SmoothQuant: Accurate and Efficient Post"),
    ("Medusa", "cai2024medusa", "Medusa: Simple LLM Inference Acceleratio"),
    ("EAGLE", "li2024eagle", "EAGLE: Speculative Sampling Requires Ret"),
    ("Mamba", "gu2023mamba", "Mamba: Linear-Time Sequence Modeling wit"),
    ("Mixtral", "jiang2024mixtral", "Mixtral of Experts"),
    ("Chinchilla", "hoffmann2022training", "Training Compute-Optimal Large Language "),
    ("Kaplan scaling laws", "kaplan2020scaling", "Scaling Laws for Neural Language Models"),
    ("Gradient checkpointing", "chen2016training", "Training Deep Nets with Sublinear Memory"),
    ("Transformer", "vaswani2017attention", "Attention Is All You Need"),
]


@pytest.fixture(scope="module")
def papers():
    return data.load().papers.set_index("key")


@pytest.mark.parametrize("name, key, title", NAMED, ids=[n for n, _, _ in NAMED])
def test_named_paper_is_present(papers, name, key, title):
    assert key in papers.index, f"{name}: no record {key}"
    assert papers.loc[key, "title"].startswith(title)
