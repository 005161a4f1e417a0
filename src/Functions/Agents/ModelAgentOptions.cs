using System.ComponentModel.DataAnnotations;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// Where the model agent's model is and how it is called. Bound from the <c>ModelAgent</c> section (<c>ModelAgent__Endpoint</c>
/// in app settings and in the local host's environment). The model agent is available only when <see cref="Endpoint"/> and
/// <see cref="Model"/> are set.
/// </summary>
public sealed class ModelAgentOptions
{
    public const string SectionName = "ModelAgent";

    /// <summary>
    /// An Azure OpenAI endpoint (<c>https://{name}.openai.azure.com/</c>, reached with the app's managed identity when no
    /// <see cref="ApiKey"/> is set), or the base URL of any server that speaks the OpenAI Chat Completions API: requests go to
    /// <c>{Endpoint}/chat/completions</c> (<c>http://127.0.0.1:11434/v1</c>, <c>https://api.openai.com/v1</c>). Empty: no model agent.
    /// </summary>
    public string? Endpoint { get; set; }

    /// <summary>The model (an Azure OpenAI deployment name, or the <c>model</c> of a chat completions request).</summary>
    public string? Model { get; set; }

    /// <summary>Sent as <c>Authorization: Bearer</c> to an OpenAI-compatible endpoint. Never needed for Azure OpenAI in Azure.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The most model calls one run may make; a run that needs more ends failed with <c>agent_turn_limit</c>.</summary>
    [Range(1, 500)]
    public int MaxTurns { get; set; } = 20;

    /// <summary>Retries of a model call that got 429, 408, 5xx, a timeout or no connection (exponential back-off, Retry-After honoured).</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 4;

    /// <summary>The first retry's delay; each next one doubles it (with jitter), at most a minute.</summary>
    [Range(1, 60_000)]
    public int RetryDelayMilliseconds { get; set; } = 2000;

    /// <summary>How long one attempt of a model call may take.</summary>
    [Range(1, 600)]
    public int TimeoutSeconds { get; set; } = 120;

    /// <summary>Comma-separated tenants that may run the model agent; empty: every tenant.</summary>
    public string? Tenants { get; set; }

    /// <summary>Give the model the sample tools (<c>draft_email</c>, <c>send_email</c> into the EmailOutbox table).</summary>
    public bool SampleTools { get; set; } = true;

    internal bool IsConfigured => !string.IsNullOrWhiteSpace(Endpoint) && !string.IsNullOrWhiteSpace(Model);

    /// <summary>Null when the tenant may run the model agent (it is configured and the tenant is allowed); else why not.</summary>
    internal string? UnavailableBecause(string tenantId)
    {
        if (!IsConfigured)
        {
            return "The model agent is not configured on this service (ModelAgent:Endpoint and ModelAgent:Model).";
        }

        var allowed = (Tenants ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return allowed.Length == 0 || allowed.Contains(tenantId, StringComparer.Ordinal)
            ? null
            : "The model agent is not enabled for this tenant.";
    }

    /// <summary>Null when the section is usable (or empty); else what is wrong, for the start-up check.</summary>
    internal string? Problem()
    {
        if (string.IsNullOrWhiteSpace(Endpoint))
        {
            return null;
        }

        if (!Uri.TryCreate(Endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return "ModelAgent:Endpoint must be an absolute http or https URL.";
        }

        return string.IsNullOrWhiteSpace(Model) ? "ModelAgent:Model must be set when ModelAgent:Endpoint is." : null;
    }

    /// <summary>
    /// True when the endpoint is Azure OpenAI reached with a Microsoft Entra token (no key set and an Azure OpenAI host); else the
    /// endpoint is called as an OpenAI-compatible Chat Completions API.
    /// </summary>
    internal bool UsesAzureIdentity =>
        string.IsNullOrWhiteSpace(ApiKey)
        && Uri.TryCreate(Endpoint, UriKind.Absolute, out var uri)
        && uri.Scheme == Uri.UriSchemeHttps
        && AzureOpenAiHostSuffixes.Any(s => uri.Host.EndsWith(s, StringComparison.OrdinalIgnoreCase));

    private static readonly string[] AzureOpenAiHostSuffixes = [".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"];
}
