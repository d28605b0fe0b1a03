/**
 * Error bodies copied from the corpus of real provider errors (test/fixtures/corpus, one sample id each,
 * where the sample's public source and date are recorded). The simulator answers with these texts, so
 * what a client parses is what the provider sent, not what this project imagined. The library cannot
 * import test files, hence the copy; keep each text byte for byte as the sample's `body`.
 *
 * Answers that carry the request's own numbers (limits, waits, models) are formatted in the dialects
 * after the wording of the samples they cite.
 */

/** `openai-429-insufficient-quota-migpt` (https://github.com/Afool4U/MIGPT/issues/11, 2023-08-16), verbatim. */
export const OPENAI_INSUFFICIENT_QUOTA = `{
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "param": null,
        "code": "insufficient_quota"
    }
}`;

/** `openai-500-server-error-had-an-error` (https://github.com/openai/openai-cua-sample-app/issues/54, 2025-05-24), verbatim. */
export const OPENAI_SERVER_ERROR = `{
  "error": {
    "message": "The server had an error processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if you keep seeing this error. (Please include the request ID req_540c6eaab7f4556b2baa22bcba915d51 in your email.)",
    "type": "server_error",
    "param": null,
    "code": null
  }
}`;

/**
 * The error object of a broken OpenAI stream, `openai-stream-server-error-responses`
 * (https://github.com/openai/openai-node/issues/1730, 2026-01-04): what openai-node printed as the stream's error.
 */
export const OPENAI_STREAM_ERROR = {
  type: 'server_error',
  code: 'server_error',
  message:
    'An error occurred while processing your request. You can retry your request, or contact us through our help center at help.openai.com if the error persists. Please include the request ID req_1332ed8a813a4caaa2f0f3c55a6a68cb in your message.',
  param: null,
};

/**
 * The error of a broken Azure OpenAI chat stream, `azure-sse-overloaded-server-error-proxy22`
 * (https://github.com/scalaone/azure-openai-proxy/issues/22, 2023-07-23); sent on one `data:` line.
 */
export const AZURE_STREAM_ERROR = {
  error: {
    message:
      'That model is currently overloaded with other requests. You can retry your request, or contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 if the error persists. (Please include the request ID 2dcb57a0-803c-4ac1-986d-e3aee5fedd6e in your message.)',
    type: 'server_error',
    param: null,
    code: null,
  },
};

/** `anthropic-500-api-error-cc61368` (https://github.com/anthropics/claude-code/issues/61368, 2026-05-22), verbatim. */
export const ANTHROPIC_SERVER_ERROR = '{"type":"error","error":{"type":"api_error","message":"Internal server error"},"request_id":"req_011CbGwJbzjfDGN6vNFPYMGA"}';

/** `anthropic-429-account-rate-limit-cc45257` (https://github.com/anthropics/claude-code/issues/45257, 2026-04-08), verbatim: a 429 that states no limit and no wait. */
export const ANTHROPIC_ACCOUNT_RATE_LIMIT =
  '{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your account\'s rate limit. Please try again later."},"request_id":"req_011CZrU3xcqt5z3XzEkovTus"}';

/** `anthropic-529-overloaded-error`, verbatim. */
export const ANTHROPIC_OVERLOADED = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}';

/** `anthropic-400-credit-balance-too-low-request-id`, verbatim. */
export const ANTHROPIC_CREDIT_BALANCE_TOO_LOW =
  '{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."},"request_id":"req_011CbrFTcXhtiMzr3s6EocF7"}';

/** `gemini-503-model-overloaded-genai-stream` (https://github.com/google-gemini/gemini-cli/issues/15745, 2025-12-31), verbatim. */
export const GEMINI_OVERLOADED = `{
  "error": {
    "code": 503,
    "message": "The model is overloaded. Please try again later.",
    "status": "UNAVAILABLE"
  }
}
`;

/**
 * The error chunk of a broken Gemini stream, `gemini-stream-chunk-503-unavailable`
 * (https://github.com/google-gemini/gemini-cli/issues/4360, 2025-07-30), verbatim.
 */
export const GEMINI_STREAM_ERROR_CHUNK = '{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}';

/** `gemini-400-api-key-invalid-pretty` (https://github.com/zeroclaw-labs/zeroclaw/issues/194, 2026-02-15), with the final newline of the SSE form. */
export const GEMINI_API_KEY_INVALID = `{
  "error": {
    "code": 400,
    "message": "API key not valid. Please pass a valid API key.",
    "status": "INVALID_ARGUMENT",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {
          "service": "generativelanguage.googleapis.com"
        }
      },
      {
        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
        "locale": "en-US",
        "message": "API key not valid. Please pass a valid API key."
      }
    ]
  }
}
`;

/** The Gemini API's per-minute quota message, `gemini-429-minute-input-tokens-retryinfo-26s-genai-stream` (Roo-Code #3883, 2025-06-12). */
export const GEMINI_QUOTA_MESSAGE =
  'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.';

/**
 * The Gemini API's free-tier daily quota, `gemini-429-help-only-exceeded-quota-genai-stream`
 * (https://github.com/gke-labs/gemini-for-kubernetes-development/issues/1215, 2026-07-23), verbatim: only a Help detail.
 */
export const GEMINI_DAILY_QUOTA = `{
  "error": {
    "code": 429,
    "message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/rate-limit. ",
    "status": "RESOURCE_EXHAUSTED",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.Help",
        "links": [
          {
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits"
          }
        ]
      }
    ]
  }
}
`;

/**
 * Vertex AI's per-minute quota, `vertex-429-quota-exceeded-per-minute-per-base-model-grpc`
 * (https://github.com/GoogleCloudPlatform/Open_Data_QnA/issues/61, 2024-11-11); `{model}` is the request's model.
 */
export const VERTEX_MINUTE_QUOTA_MESSAGE =
  'Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model with base model: {model}. Please submit a quota increase request. https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.';

/**
 * A per-day quota on Google's Code Assist front of Vertex models, `codeassist-429-gemini-25-pro-requests-per-day`
 * (https://github.com/google-gemini/gemini-cli/issues/2711, 2025-07-08), verbatim (the array form of a streaming answer).
 */
export const VERTEX_DAILY_QUOTA = `[{
  "error": {
    "code": 429,
    "message": "Quota exceeded for quota metric 'Gemini 2.5 Pro Requests' and limit 'Gemini 2.5 Pro Requests per day per user per tier' of service 'cloudcode-pa.googleapis.com' for consumer 'project_number:[project_number_redacted]'.",
    "errors": [
      {
        "message": "Quota exceeded for quota metric 'Gemini 2.5 Pro Requests' and limit 'Gemini 2.5 Pro Requests per day per user per tier' of service 'cloudcode-pa.googleapis.com' for consumer 'project_number:[project_number_redacted]'.",
        "domain": "global",
        "reason": "rateLimitExceeded"
      }
    ],
    "status": "RESOURCE_EXHAUSTED"
  }
}
]`;

/**
 * The data of a broken Anthropic stream's `event: error`, `anthropic-sse-error-event-overloaded`
 * (https://github.com/anthropics/claude-code/issues/309, 2025-03-04), verbatim (its spaces included).
 */
export const ANTHROPIC_STREAM_ERROR = '{"type":"error","error":{"details":null,"type":"overloaded_error","message":"Overloaded"}    }';

/**
 * The error of a Responses stream `error` event, `openai-responses-stream-error-event-overloaded`
 * (https://github.com/Wei-Shaw/sub2api/issues/6631, 2026-09-05): nested under `error`, as sent.
 */
export const OPENAI_RESPONSES_ERROR_EVENT_ERROR = {
  code: 'server_is_overloaded',
  message: 'Our servers are currently overloaded. Please try again later.',
  param: null,
  type: 'service_unavailable_error',
};

/**
 * The `error` of a Responses `response.failed` event, `openai-responses-stream-response-failed-overloaded`
 * (https://github.com/Wei-Shaw/sub2api/issues/5909, 2026-08-20).
 */
export const OPENAI_RESPONSE_FAILED_ERROR = { code: 'server_is_overloaded', message: 'Our servers are currently overloaded. Please try again later.' };

/** The reason of a finished Veo operation whose video was filtered, `veo-operation-done-rai-audio-filtered` (googleapis/js-genai#1272, 2026-01-23). */
export const VEO_FILTER_REASON =
  'We encountered an issue with the audio for your prompt, which means we could not create your video. This can sometimes happen due to our safety filters or other processing issues. Please modify your request and try again. You have not been charged for this attempt.';

/** Azure OpenAI's prompt filter, `azure-400-content-filter-jailbreak-innererror` (https://github.com/Gitlawb/openclaude/issues/273, 2026-04-03), verbatim. */
export const AZURE_CONTENT_FILTER =
  '{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI\'s content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":true,"detected":true},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}}}';
