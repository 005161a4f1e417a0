namespace AgentRuns.Functions.Security;

/// <summary>
/// Authentication settings. Bound from the <c>Auth</c> section. A development key, when set, is stored (as its hash)
/// at start-up so that a local run works with a known key; never set one in Azure.
/// </summary>
public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary>A fixed API key for local development (see local.settings.sample.json). Empty in Azure.</summary>
    public string? DevelopmentKey { get; set; }

    /// <summary>The tenant the development key belongs to.</summary>
    public string DevelopmentTenant { get; set; } = "dev";
}
