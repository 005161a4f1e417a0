using System.Text.Json;
using AgentRuns.Functions.Security;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>What the log may show of a submitted payload, with the default word list.</summary>
public sealed class PayloadRedactorTests
{
    private static readonly PayloadRedactor Redactor = new(Options.Create(new SecurityOptions()));

    [Theory]
    [InlineData("password")]
    [InlineData("db_password")]
    [InlineData("accessToken")]
    [InlineData("API-Key")]
    [InlineData("pwd")]
    [InlineData("user_pwd")]
    [InlineData("passphrase")]
    [InlineData("aws_access_key")]
    [InlineData("AccessKeyId")]
    [InlineData("connection_string")]
    [InlineData("ConnectionString")]
    [InlineData("cookie")]
    [InlineData("Set-Cookie")]
    [InlineData("session")]
    [InlineData("sessionId")]
    [InlineData("otp")]
    [InlineData("OTPCode")]
    [InlineData("cvv")]
    [InlineData("card_cvv")]
    [InlineData("pin")]
    [InlineData("cardPin")]
    [InlineData("PIN")]
    [InlineData("ssn")]
    [InlineData("\uFF50\uFF41\uFF53\uFF53\uFF57\uFF4F\uFF52\uFF44")] // full-width "password"
    [InlineData("card_\uFF30\uFF29\uFF2E")]                             // full-width "PIN" as a word
    [InlineData("p\u200Bin")]                                              // a zero-width space inside a short word
    [InlineData("api_\u212Aey")]                                           // the Kelvin sign for K
    [InlineData("\ud800password")]                                         // a lone surrogate does not stop the match (nor throw)
    public void SecretLookingNames_AreSensitive(string name) => Assert.True(Redactor.IsSensitive(name), name);

    [Theory]
    [InlineData("shipping")]
    [InlineData("spinner")]
    [InlineData("mapping")]
    [InlineData("option")]
    [InlineData("adoption")]
    [InlineData("recipient")]
    [InlineData("subject")]
    public void OrdinaryNames_AreNot(string name) => Assert.False(Redactor.IsSensitive(name), name);

    [Fact]
    public void ANameValuePair_WhoseNameIsASecret_HasItsValueMasked()
    {
        var redacted = Redactor.Redact("""{"fields":[{"name":"password","value":"hunter2"},{"name":"city","value":"Oslo"},{"key":"otp","value":123456}]}""");

        Assert.True(redacted.Redacted);
        using var json = JsonDocument.Parse(redacted.Json);
        var fields = json.RootElement.GetProperty("fields");
        Assert.Equal(PayloadRedactor.Mask, fields[0].GetProperty("value").GetString());
        Assert.Equal("Oslo", fields[1].GetProperty("value").GetString());
        Assert.Equal(PayloadRedactor.Mask, fields[2].GetProperty("value").GetString());
        Assert.DoesNotContain("hunter2", redacted.Json, StringComparison.Ordinal);
    }

    [Fact]
    public void APayloadWithoutSecrets_IsReturnedAsItWasSent()
    {
        const string Payload = """{"to":"é <b>team</b>","n":1}""";

        var redacted = Redactor.Redact(Payload);

        Assert.False(redacted.Redacted);
        Assert.Same(Payload, redacted.Json);
    }

    [Fact]
    public void AMaskedPayload_KeepsItsOtherTextUnescaped()
    {
        var redacted = Redactor.Redact("""{"note":"é <b>","pin":"1234"}""");

        Assert.Equal("""{"note":"é <b>","pin":"[REDACTED]"}""", redacted.Json);
    }
}
