using System.ComponentModel.DataAnnotations;

namespace AgentRuns.Functions.Storage;

/// <summary>
/// Where the run records and event log live. Bound from the <c>RunStorage</c> section.
/// Locally: <c>ConnectionString</c> (Azurite). In Azure: <c>TableServiceUri</c> with a managed identity
/// (<c>ClientId</c> of a user-assigned identity), never a key.
/// </summary>
public sealed class RunStorageOptions
{
    public const string SectionName = "RunStorage";

    public string? ConnectionString { get; set; }

    public Uri? TableServiceUri { get; set; }

    /// <summary>Client id of the user-assigned managed identity used with <see cref="TableServiceUri"/>.</summary>
    public string? ClientId { get; set; }

    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string RunsTable { get; set; } = "Runs";

    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string EventsTable { get; set; } = "RunEvents";

    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string IdempotencyTable { get; set; } = "Idempotency";

    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string ApiKeysTable { get; set; } = "ApiKeys";

    internal bool IsConfigured => !string.IsNullOrWhiteSpace(ConnectionString) || TableServiceUri is not null;
}
