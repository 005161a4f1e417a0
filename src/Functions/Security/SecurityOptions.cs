namespace AgentRuns.Functions.Security;

/// <summary>Redaction settings. Bound from the <c>Security</c> section.</summary>
public sealed class SecurityOptions
{
    public const string SectionName = "Security";

    /// <summary>
    /// Comma-separated words; a submitted field whose name contains one of them (ignoring case, '_' and '-') is masked
    /// in the event log and in logs: <c>db_password</c>, <c>accessToken</c> and <c>API-Key</c> all match the defaults.
    /// </summary>
    public string RedactedFieldNames { get; set; } = "password,passwd,secret,token,api_key,apikey,authorization,credential,private_key,ssn";
}
