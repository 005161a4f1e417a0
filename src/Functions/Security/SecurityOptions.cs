namespace AgentRuns.Functions.Security;

/// <summary>Redaction settings. Bound from the <c>Security</c> section.</summary>
public sealed class SecurityOptions
{
    public const string SectionName = "Security";

    /// <summary>
    /// Comma-separated words; a submitted field whose name contains one of them (ignoring case, '_' and '-'; words of three
    /// letters or fewer only as a whole word of the name) is masked in the event log and in logs: <c>db_password</c>,
    /// <c>accessToken</c>, <c>API-Key</c> and <c>card_pin</c> all match the defaults, <c>shipping</c> does not.
    /// </summary>
    public string RedactedFieldNames { get; set; } = DefaultRedactedFieldNames;

    public const string DefaultRedactedFieldNames =
        "password,passwd,pwd,passphrase,secret,token,api_key,apikey,access_key,authorization,credential,private_key," +
        "connection_string,cookie,session,otp,cvv,pin,ssn";
}
