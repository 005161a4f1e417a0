// Agent runs with a human in the loop: everything `azd up` creates in Azure.
// A resource group rg-<env> holding a Flex Consumption function app (the API and the Durable
// orchestrations), its storage account (host storage, Durable task hub, the app's tables and the
// deployment package container), a user-assigned identity that reaches all of them without keys, and
// Application Insights on a Log Analytics workspace.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it names the resource group (rg-<env>) and seeds the unique token used in every resource name.')
param environmentName string

@minLength(1)
@description('Region for every resource. Only regions that offer the Flex Consumption plan are allowed.')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person (or pipeline) deploying. When set, it gets the same data roles on the storage account as the app, so it can mint API keys and inspect tables. azd passes AZURE_PRINCIPAL_ID. Leave empty to grant nothing.')
param principalId string = ''

@description('Kind of principal in principalId: User for a person signed in with azd, ServicePrincipal for a pipeline.')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Memory of each Flex Consumption instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound on Flex Consumption instances the app scales out to. Flex Consumption accepts 40 to 1000.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Concurrent HTTP executions one instance takes before Flex Consumption adds another (triggers.http.perInstanceConcurrency; the platform default is 16 at 2048 MB). Every open SSE stream holds one for up to streamMaxDurationSeconds, and an instance is billed the same for 1 or 100 of them, so this sets how many streams share an instance and its bill: 300 open streams need 19 instances at 16, 3 at 100. See docs/deploy.md.')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 100

@description('Instances kept warm for the HTTP functions (Flex "http" group); 0 lets the API scale to zero and pay a cold start. Billed while idle: worth it when streams are open more than about 40% of the time (docs/deploy.md).')
@minValue(0)
@maxValue(10)
param httpAlwaysReadyInstances int = 0

@description('Instances kept warm for orchestrations and activities (Flex "durable" group); 0 lets them scale to zero, so a signal to an idle app waits for a cold start before the run resumes.')
@minValue(0)
@maxValue(10)
param durableAlwaysReadyInstances int = 0

@description('Signal timeout applied to a run that does not ask for one (Runs__DefaultSignalTimeoutSeconds).')
@minValue(1)
param defaultSignalTimeoutSeconds int = 3600

@description('Largest signal_timeout_seconds a client may ask for (Runs__MaxSignalTimeoutSeconds). Default: 7 days.')
@minValue(1)
param maxSignalTimeoutSeconds int = 604800

@description('Longest an SSE response stays open before the server ends it and the client resumes with Last-Event-ID (Streams__MaxDurationSeconds). Keep it under the 230 s HTTP front-end limit.')
@minValue(1)
@maxValue(220)
param streamMaxDurationSeconds int = 180

@description('Idle interval between SSE comment lines (Streams__HeartbeatSeconds).')
@minValue(1)
@maxValue(15)
param streamHeartbeatSeconds int = 15

@description('Shortest wait between two reads of the event log by an SSE stream (Streams__MinPollMilliseconds).')
@minValue(10)
param streamMinPollMilliseconds int = 100

@description('Longest wait between two reads of the event log by an idle SSE stream (Streams__MaxPollMilliseconds).')
@minValue(10)
param streamMaxPollMilliseconds int = 2000

@description('Days the Durable history of a finished run (its raw, unmasked inputs and answers) is kept before it is purged (Runs__HistoryRetentionDays). The API keeps serving the run and its events.')
@minValue(0)
@maxValue(3650)
param historyRetentionDays int = 7

@description('Comma-separated field names whose values are redacted in stored events and logs (Security__RedactedFieldNames).')
@minLength(1)
param redactedFieldNames string = 'password,passwd,pwd,passphrase,secret,token,api_key,apikey,access_key,authorization,credential,private_key,connection_string,cookie,session,otp,cvv,pin,ssn'

@description('Hours a completed response stays stored for Idempotency-Key replay (Idempotency__RetentionHours). At least 24.')
@minValue(24)
@maxValue(720)
param idempotencyRetentionHours int = 24

@description('Seconds an in-flight idempotent request blocks retries with the same key before it counts as abandoned (Idempotency__LockSeconds).')
@minValue(5)
@maxValue(600)
param idempotencyLockSeconds int = 60

@description('The agent of a run whose create request does not name one (Agents__Default): scripted, or model (needs deployOpenAi, or ModelAgent__* settings of your own).')
@allowed([
  'scripted'
  'model'
])
param defaultAgent string = 'scripted'

@description('Create an Azure OpenAI account with one model deployment for the model agent, reached with the app\'s managed identity (Cognitive Services OpenAI User). Billed per token; see docs/deploy.md.')
param deployOpenAi bool = false

@description('Region of the Azure OpenAI account; empty: the same as everything else. Pick one that offers the model with the GlobalStandard deployment type.')
param openAiLocation string = ''

@description('The model deployed for the model agent (its name in the Azure OpenAI model catalog). It must support tool calling.')
@minLength(1)
param openAiModelName string = 'gpt-4.1-mini'

@description('Version of that model.')
@minLength(1)
param openAiModelVersion string = '2025-04-14'

@description('Capacity of the model deployment, in thousands of tokens per minute (GlobalStandard).')
@minValue(1)
@maxValue(1000)
param openAiCapacity int = 10

@description('Most model calls one run of the model agent may make before it ends failed with agent_turn_limit (ModelAgent__MaxTurns).')
@minValue(1)
@maxValue(500)
param modelAgentMaxTurns int = 20

@description('Comma-separated tenants that may run the model agent (ModelAgent__Tenants); empty: every tenant.')
param modelAgentTenants string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}

var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'

// The tables the app reads and writes; Durable Functions creates its own task hub tables at run time.
var tableNames = {
  runs: 'Runs'
  openRuns: 'OpenRuns'
  idempotency: 'Idempotency'
  apiKeys: 'ApiKeys'
  webhooks: 'Webhooks'
  webhookOutbox: 'WebhookOutbox'
  webhookAttempts: 'WebhookAttempts'
  modelTurns: 'ModelTurns'
  emailOutbox: 'EmailOutbox'
  workers: 'Workers'
  workerSteps: 'WorkerSteps'
}

// Settings the application code reads (Section__Key). Adding one is one line here.
// Not set in Azure on purpose:
// - RunStorage__ConnectionString: local development only (Azurite); in Azure the code uses the managed
//   identity because RunStorage__TableServiceUri is set.
// - DurableTask__HubName: the task hub name lives in host.json.
// - ModelAgent__ApiKey: Azure OpenAI is reached with the managed identity; a key for another endpoint is set by hand.
var appSettings = {
  RunStorage__TableServiceUri: storage.outputs.tableEndpoint
  RunStorage__ClientId: identity.outputs.clientId
  RunStorage__RunsTable: tableNames.runs
  RunStorage__OpenRunsTable: tableNames.openRuns
  RunStorage__IdempotencyTable: tableNames.idempotency
  RunStorage__ApiKeysTable: tableNames.apiKeys
  RunStorage__WebhooksTable: tableNames.webhooks
  RunStorage__WebhookOutboxTable: tableNames.webhookOutbox
  RunStorage__WebhookAttemptsTable: tableNames.webhookAttempts
  RunStorage__ModelTurnsTable: tableNames.modelTurns
  RunStorage__EmailOutboxTable: tableNames.emailOutbox
  RunStorage__WorkersTable: tableNames.workers
  RunStorage__WorkerStepsTable: tableNames.workerSteps
  // An API request waits at most ~(timeout x (retries + 1)) on storage that does not answer, then gets 503.
  RunStorage__NetworkTimeoutSeconds: '5'
  RunStorage__MaxRetries: '2'
  // The repairer (RepairRuns, every minute): see docs/api.md, "Runs that heal".
  Repair__StartGraceSeconds: '60'
  Repair__SignalGraceSeconds: '30'
  Repair__ExpiryGraceSeconds: '60'
  Repair__MaxCheckIntervalSeconds: '900'
  Repair__BatchSize: '100'
  Repair__IntervalSeconds: '60'
  Runs__DefaultSignalTimeoutSeconds: string(defaultSignalTimeoutSeconds)
  Runs__MaxSignalTimeoutSeconds: string(maxSignalTimeoutSeconds)
  Runs__HistoryRetentionDays: string(historyRetentionDays)
  // The agent of a run whose create request does not name one.
  Agents__Default: defaultAgent
  // The model agent: the Azure OpenAI deployment made below, or nothing (the model agent is then not available).
  ModelAgent__Endpoint: openAi.?outputs.endpoint ?? ''
  ModelAgent__Model: openAi.?outputs.deploymentName ?? ''
  ModelAgent__MaxTurns: string(modelAgentMaxTurns)
  ModelAgent__MaxRetries: '4'
  ModelAgent__RetryDelayMilliseconds: '2000'
  ModelAgent__TimeoutSeconds: '120'
  ModelAgent__Tenants: modelAgentTenants
  ModelAgent__SampleTools: 'true'
  Streams__MaxDurationSeconds: string(streamMaxDurationSeconds)
  Streams__HeartbeatSeconds: string(streamHeartbeatSeconds)
  Streams__MinPollMilliseconds: string(streamMinPollMilliseconds)
  Streams__MaxPollMilliseconds: string(streamMaxPollMilliseconds)
  Security__RedactedFieldNames: redactedFieldNames
  Idempotency__RetentionHours: string(idempotencyRetentionHours)
  Idempotency__LockSeconds: string(idempotencyLockSeconds)
  // Webhooks (DeliverWebhooks every minute, PurgeWebhookAttempts hourly): see docs/api.md, "Webhooks". Never loopback in Azure.
  Webhooks__AllowLoopback: 'false'
  Webhooks__RetryScheduleSeconds: '5,300,1800,7200,18000,36000,36000'
  Webhooks__AttemptTimeoutSeconds: '15'
  Webhooks__SubscriptionCacheSeconds: '30'
  Webhooks__MissingEventGraceSeconds: '300'
  Webhooks__DispatchIntervalSeconds: '60'
  Webhooks__BatchSize: '100'
  Webhooks__MaxConcurrentDeliveries: '8'
  Webhooks__MaxPerTenant: '20'
  Webhooks__AttemptRetentionDays: '30'
  // HTTP workers (agent "worker:<name>"): see docs/api.md, "HTTP workers". Their URLs follow the webhooks' rule above.
  Workers__TimeoutSeconds: '30'
  Workers__MaxRetries: '3'
  Workers__RetryDelayMilliseconds: '1000'
  Workers__MaxResponseBytes: '262144'
  Workers__MaxPerTenant: '20'
  Workers__MaxSteps: '500'
  // No development key in Azure: mint keys with src/Tools (see docs/deploy.md).
  Auth__DevelopmentKey: ''
  Auth__DevelopmentTenant: 'dev'
}

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentStorageContainerName
    tableNames: map(items(tableNames), table => table.value)
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    location: location
    tags: tags
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module openAi 'app/openai.bicep' = if (deployOpenAi) {
  name: 'openai'
  scope: rg
  params: {
    name: '${abbrs.cognitiveServicesAccounts}${resourceToken}'
    location: empty(openAiLocation) ? location : openAiLocation
    tags: tags
    deploymentName: openAiModelName
    modelName: openAiModelName
    modelVersion: openAiModelVersion
    capacity: openAiCapacity
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    runtimeName: 'dotnet-isolated'
    runtimeVersion: '10.0'
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    httpAlwaysReadyInstances: httpAlwaysReadyInstances
    durableAlwaysReadyInstances: durableAlwaysReadyInstances
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentStorageContainerName}'
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appSettings: appSettings
  }
  // The host reaches storage and App Insights through the identity from its first start.
  dependsOn: [
    rbac
  ]
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output AZURE_USER_ASSIGNED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_OPENAI_ENDPOINT string = openAi.?outputs.endpoint ?? ''
output AZURE_OPENAI_DEPLOYMENT string = openAi.?outputs.deploymentName ?? ''
