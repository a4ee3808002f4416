export const LLM_PROVIDERS = ['openai', 'deepseek', 'yandexgpt', 'grok', 'ollama', 'custom'] as const;
export type LlmProvider = (typeof LLM_PROVIDERS)[number];

export interface ProviderPreset {
  baseURL?: string;
  model?: string;
  /** Whether the provider refuses requests without an API key. */
  needsApiKey: boolean;
  /** Whether `response_format: json_object` is supported. */
  jsonMode: boolean;
}

/** Defaults per OpenAI-compatible provider; every field can be overridden by LLM_* variables. */
export const PROVIDER_PRESETS: Record<LlmProvider, ProviderPreset> = {
  openai: { baseURL: 'https://api.openai.com/v1', model: 'gpt-4o-mini', needsApiKey: true, jsonMode: true },
  deepseek: {
    baseURL: 'https://api.deepseek.com/v1',
    model: 'deepseek-chat',
    needsApiKey: true,
    jsonMode: true,
  },
  // YandexGPT's OpenAI-compatible endpoint: the model is a URI inside the folder.
  yandexgpt: {
    baseURL: 'https://llm.api.cloud.yandex.net/v1',
    model: 'yandexgpt-lite/latest',
    needsApiKey: true,
    jsonMode: false,
  },
  grok: { baseURL: 'https://api.x.ai/v1', model: 'grok-3-mini', needsApiKey: true, jsonMode: true },
  ollama: { baseURL: 'http://127.0.0.1:11434/v1', model: 'llama3.1', needsApiKey: false, jsonMode: true },
  custom: { needsApiKey: false, jsonMode: true },
};

export interface LlmSettings {
  provider: LlmProvider;
  baseURL: string;
  apiKey: string;
  model: string;
  jsonMode: boolean;
  defaultHeaders: Record<string, string>;
}

export interface LlmSettingsInput {
  provider?: LlmProvider | undefined;
  baseURL?: string | undefined;
  apiKey?: string | undefined;
  model?: string | undefined;
  folderId?: string | undefined;
  jsonMode?: boolean | undefined;
}

export type ResolvedLlmSettings =
  { ok: true; settings: LlmSettings } | { ok: false; missing: string[]; reason: string };

/**
 * Turns LLM_* variables into client settings, or says which variables are missing
 * (the service still starts; /health is degraded and requests get a 503 naming them).
 */
export function resolveLlmSettings(input: LlmSettingsInput): ResolvedLlmSettings {
  if (!input.provider) {
    return {
      ok: false,
      missing: ['LLM_PROVIDER'],
      reason: `LLM is not configured: set LLM_PROVIDER (one of ${LLM_PROVIDERS.join(', ')}) and LLM_API_KEY`,
    };
  }
  const preset = PROVIDER_PRESETS[input.provider];
  const missing: string[] = [];
  if (preset.needsApiKey && !input.apiKey) missing.push('LLM_API_KEY');
  if (input.provider === 'yandexgpt' && !input.folderId) missing.push('YANDEX_FOLDER_ID');
  const baseURL = input.baseURL ?? preset.baseURL;
  if (!baseURL) missing.push('LLM_BASE_URL');
  let model = input.model ?? preset.model;
  if (!model) missing.push('LLM_MODEL');
  if (missing.length > 0 || !baseURL || !model) {
    return {
      ok: false,
      missing,
      reason: `LLM provider "${input.provider}" is not configured: set ${missing.join(', ')}`,
    };
  }
  const defaultHeaders: Record<string, string> = {};
  if (input.provider === 'yandexgpt' && input.folderId) {
    if (!model.startsWith('gpt://')) model = `gpt://${input.folderId}/${model}`;
    defaultHeaders['x-folder-id'] = input.folderId;
  }
  return {
    ok: true,
    settings: {
      provider: input.provider,
      baseURL,
      // Local servers (Ollama, llama.cpp) ignore the key, but the SDK insists on one.
      apiKey: input.apiKey ?? 'not-needed',
      model,
      jsonMode: input.jsonMode ?? preset.jsonMode,
      defaultHeaders,
    },
  };
}
