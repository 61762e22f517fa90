"""Everything on the way to an external model: PII masking, prompts, the OpenAI client.

Plain Python: no Django imports, nothing from reviewapp (a test enforces it).
"""
